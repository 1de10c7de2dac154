"""How curl reaches a lab proxy port: the arguments, built in one place.

Each scheme needs its own flags: Basic-style ports (and SOCKS5, as
`-x socks5h://...`) take `-U user:password`,
`ntlm` takes `--proxy-ntlm` and the user as `WORKGROUP\\user`, `negotiate`
takes `--proxy-negotiate -U :` with a Kerberos ticket in the environment and
the proxy called by its principal's name (`--resolve` maps it to 127.0.0.1).
"""

from __future__ import annotations

from lab.endpoints import ProxyPort


def proxy_args(proxy: ProxyPort, *, workgroup: str = "", user: str | None = None,
               password: str | None = None, scheme: str | None = None,
               credentials: bool = True) -> list[str]:
    """curl arguments for `proxy`: its own scheme and user unless told otherwise.

    `scheme` ("basic", "ntlm", "negotiate") pushes another scheme's credentials at
    the port; `credentials=False` sends none.
    """
    scheme = scheme or {"ntlm": "ntlm", "negotiate": "negotiate"}.get(proxy.name, "basic")
    address = f"{proxy.scheme}://{proxy.connect_address}:{proxy.port}"
    if not credentials:
        return ["-x", address]
    if scheme == "negotiate":
        return ["--proxy-negotiate", "-U", ":",
                "--resolve", f"{proxy.host}:{proxy.port}:{proxy.connect_address}",
                "-x", proxy.url]
    user = user if user is not None else proxy.username
    password = password if password is not None else proxy.password
    if scheme == "ntlm":
        return ["--proxy-ntlm", "-U", f"{workgroup}\\{user}:{password}", "-x", address]
    args = ["-U", f"{user}:{password}"] if user else []
    return [*args, "-x", address]
