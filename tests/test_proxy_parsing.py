import pytest

from lab.proxy import (
    Credentials,
    ProxyAuthenticationError,
    parse_challenges,
    proxy_from_environment,
)
from lab.proxy.schemes import BasicAuthenticator


@pytest.mark.parametrize("values,expected", [
    (['Basic realm="lab proxy"'], [("Basic", {"realm": "lab proxy"}, None)]),
    (["Negotiate", 'Basic realm="x"'], [("Negotiate", {}, None), ("Basic", {"realm": "x"}, None)]),
    (["NTLM TlRMTVNTUAACAAAA=="], [("NTLM", {}, "TlRMTVNTUAACAAAA==")]),
    (['Basic realm="a, b", Digest realm="x", nonce="y", qop=auth'],
     [("Basic", {"realm": "a, b"}, None),
      ("Digest", {"realm": "x", "nonce": "y", "qop": "auth"}, None)]),
    (['Basic realm="say \\"hi\\""'], [("Basic", {"realm": 'say "hi"'}, None)]),
    ([b"Negotiate, NTLM"], [("Negotiate", {}, None), ("NTLM", {}, None)]),
    ([], []),
])
def test_parse_challenges(values, expected):
    got = [(c.scheme, c.params, c.token) for c in parse_challenges(values)]
    assert got == expected


def test_basic_header():
    header = BasicAuthenticator(Credentials("alice", "pa:ss")).header()
    assert header == b"Basic YWxpY2U6cGE6c3M="


def test_secrets_stay_out_of_repr_and_errors():
    creds = Credentials("alice", "S3cret-Pass")
    assert "S3cret-Pass" not in repr(creds) + str(creds)
    assert "S3cret-Pass" not in repr(BasicAuthenticator(creds))
    error = ProxyAuthenticationError(407, "407 from proxy", ("Basic",))
    assert error.status == b"407" and error.schemes == ("Basic",)


ENV = {"http_proxy": "http://u%40x:p%3Ass@proxy.example:3128",
       "https_proxy": "proxy2.example:8443", "no_proxy": "localhost,.internal,10.1.2.3"}


@pytest.mark.parametrize("url,expected", [
    ("http://web.example.com/", ("proxy.example", 3128, "u@x", "p:ss")),
    ("https://web.example.com/", ("proxy2.example", 8443, None, None)),
    ("http://localhost:8080/", None),
    ("http://build.internal/", None),
    ("http://internal/", None),   # urllib: the leading dot also matches the bare name
    ("http://10.1.2.3/", None),
    ("ftp://files.example/", None),
    (b"http://web.example.com/", ("proxy.example", 3128, "u@x", "p:ss")),
])
def test_proxy_from_environment(url, expected):
    settings = proxy_from_environment(url, environ=ENV)
    got = None if settings is None else (settings.host, settings.port, settings.username,
                                         settings.password)
    assert got == expected


def test_lower_case_wins_over_upper_case():
    env = {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2"}
    assert proxy_from_environment("http://x/", environ=env).host == "lower"


def test_upper_case_http_proxy_ignored_under_cgi():
    env = {"HTTP_PROXY": "http://upper:1", "REQUEST_METHOD": "GET"}
    assert proxy_from_environment("http://x/", environ=env) is None


def test_no_proxy_star_bypasses_everything():
    env = {"http_proxy": "http://p:1", "NO_PROXY": "*"}
    assert proxy_from_environment("http://x/", environ=env) is None


def test_password_not_in_settings_repr():
    assert "p:ss" not in repr(proxy_from_environment("http://w/", environ=ENV))
