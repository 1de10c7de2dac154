"""Users and groups from `lab.toml`, and the roles they play in the lab.

Roles are settled when the configuration loads: a lab that could not offer a
credential for one of its ports (say, every domain user in the proxy group,
so nobody shows the `group` port's 403) is refused before anything is built.
Standard library only: the images import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lab.config.schema import samba_password_problem
from lab.errors import ConfigError

#: Where a user can exist.
DOMAIN = "domain"
HTPASSWD = "htpasswd"
_PLACES = {DOMAIN, HTPASSWD}
#: A domain account's state, as AD has them: `disabled` (userAccountControl), or
#: `password-expired` (pwdLastSet = 0: must change it at the next logon).
ACTIVE, DISABLED, PASSWORD_EXPIRED = "active", "disabled", "password-expired"
STATES = (ACTIVE, DISABLED, PASSWORD_EXPIRED)
#: The lab's lockout policy: a fine-grained password policy (PSO) applied to this group
#: only, never the domain's (the suite sends wrong passwords for the other users all the
#: time): LOCKOUT_THRESHOLD wrong passwords lock an account until it is unlocked.
LOCKOUT_GROUP = "lab-lockout"
LOCKOUT_THRESHOLD = 5


@dataclass(frozen=True)
class User:
    name: str
    password: str = field(repr=False)
    places: frozenset[str]
    groups: tuple[str, ...] = ()
    service: bool = False
    state: str = ACTIVE
    lockout: bool = False        # under the lockout policy (LOCKOUT_GROUP's PSO)

    @property
    def ordinary(self) -> bool:
        """Active and outside the lockout policy: fit for the roles that must get in."""
        return self.state == ACTIVE and not self.lockout

    @property
    def in_domain(self) -> bool:
        return DOMAIN in self.places

    @property
    def in_htpasswd(self) -> bool:
        return HTPASSWD in self.places


@dataclass(frozen=True)
class Group:
    name: str
    description: str = ""


@dataclass(frozen=True)
class Roles:
    """Which user plays which part; settled when the configuration loads, so a lab
    that could not offer a credential for some port is never built."""

    basic: User            # htpasswd user for the `basic` port
    domain: User           # domain user for `ldap`, `negotiate`, `ntlm` (and health checks)
    group_member: User     # domain user in the proxy group: `group` admits them
    group_denied: User     # domain user outside it: `group` answers 403
    ldap_bind: User        # squid's LDAP bind account (service = true)
    #: a domain user playing no other role: nothing in the lab sends it to squid while
    #: the DC answers, so squid cannot have it cached (the `dc-down` scenario's user)
    uncached: User
    #: in the domain and the htpasswd file, playing no other role: the lab sends squid
    #: only wrong passwords for it (the wrong-password scenarios' user), as a wrong
    #: password replaces squid's cached one under that user's requests in flight
    wrong_password: User
    account_disabled: User     # state = "disabled" (the `account-disabled` scenario)
    password_expired: User     # state = "password-expired"
    #: under the lockout policy; the lab locks it before `account-locked` and never
    #: sends its right password while it is unlocked
    account_locked: User
    #: under the lockout policy; `lockout-budget` sends it only wrong passwords, counts
    #: them at the DC, and unlocks it after every run
    lockout_budget: User


def parse_users(raw: list[dict], group_names: set[str]) -> tuple[User, ...]:
    users, seen = [], set()
    for entry in raw:
        name = entry["name"]
        if not re.fullmatch(r"[a-z][a-z0-9._-]{0,19}", name):
            raise ConfigError(f"lab.toml: user name {name!r}: use 1-20 lower-case letters, "
                              "digits, '.', '_' or '-', starting with a letter")
        if name in seen:
            raise ConfigError(f"lab.toml: user {name!r} is listed twice")
        seen.add(name)
        places = frozenset(entry["in"])
        if not places or places - _PLACES:
            raise ConfigError(f"lab.toml: user {name!r}: `in` must list one or both of "
                              f"{sorted(_PLACES)}, got {sorted(map(str, places))}")
        password = entry["password"]
        if DOMAIN in places:
            problem = samba_password_problem(name, password)
            if problem:
                raise ConfigError(f"lab.toml: user {name!r}: password {problem} (Samba's "
                                  "default password policy); choose another")
        elif not password or any(c in password for c in "\n\r"):
            raise ConfigError(f"lab.toml: user {name!r}: the password is empty or has a "
                              "line break")
        state = entry.get("state", ACTIVE)
        if state not in STATES:
            raise ConfigError(f"lab.toml: user {name!r}: state {state!r}: use one of "
                              + ", ".join(STATES))
        lockout = bool(entry.get("lockout", False))
        if (state != ACTIVE or lockout) and DOMAIN not in places:
            raise ConfigError(f"lab.toml: user {name!r}: state and lockout are a domain "
                              "account's; add \"domain\" to `in`")
        groups = tuple(entry.get("groups", []))
        for group in groups:
            if group not in group_names:
                raise ConfigError(f"lab.toml: user {name!r} is in group {group!r}, which is "
                                  "not declared under [[groups]]")
        if groups and DOMAIN not in places:
            raise ConfigError(f"lab.toml: user {name!r}: groups are AD groups; add "
                              "\"domain\" to `in`")
        users.append(User(name, password, places, groups, bool(entry.get("service")), state,
                          lockout))
    return tuple(users)


def _pick(users: tuple[User, ...], role: str, fix: str, *,
          places: tuple[str, ...] = (DOMAIN,), service: bool = False,
          in_group: str | None = None, not_in_group: str | None = None,
          taken: tuple[User, ...] = (), state: str = ACTIVE, lockout: bool = False) -> User:
    for user in users:
        if user in taken or user.service != service or not user.places.issuperset(places):
            continue
        if user.state != state or user.lockout != lockout:
            continue
        if in_group is not None and in_group not in user.groups:
            continue
        if not_in_group is not None and not_in_group in user.groups:
            continue
        return user
    raise ConfigError(f"lab.toml has no user to play {role}: {fix}")


def settle_roles(users: tuple[User, ...], group: str) -> Roles:
    """Who plays each part, or one line saying which user to add."""
    basic = _pick(users, "the `basic` port's user", 'add one with in = ["htpasswd"]',
                  places=(HTPASSWD,))
    domain = _pick(users, "the domain ports' user", 'add one with in = ["domain"]')
    member = _pick(users, f"a member of {group!r}",
                   f'add a domain user with groups = ["{group}"]', in_group=group)
    denied = _pick(users, f"a domain user outside {group!r} (the `group` port's 403)",
                   f"add a domain user not in {group!r}", not_in_group=group)
    uncached = _pick(users, "the `dc-down` scenario's user (a domain user playing no "
                     "other role, so squid never caches it)", 'add another user with '
                     'in = ["domain"]', taken=(basic, domain, member, denied))
    return Roles(
        basic=basic, domain=domain, group_member=member, group_denied=denied,
        ldap_bind=_pick(users, "squid's LDAP bind account",
                        'add a domain user with service = true', service=True),
        uncached=uncached,
        wrong_password=_pick(
            users, "the wrong-password scenarios' user (playing no other role, so no "
            "right password of it is in flight)", 'add another user with in = ["domain", '
            '"htpasswd"]', places=(DOMAIN, HTPASSWD),
            taken=(basic, domain, member, denied, uncached)),
        account_disabled=_pick(users, "the `account-disabled` scenario's user",
                               'add a domain user with state = "disabled"', state=DISABLED),
        password_expired=_pick(users, "the `password-expired` scenario's user",
                               'add a domain user with state = "password-expired"',
                               state=PASSWORD_EXPIRED),
        **_lockout_roles(users))


def _lockout_roles(users: tuple[User, ...]) -> dict[str, User]:
    locked = _pick(users, "the `account-locked` scenario's user",
                   "add a domain user with lockout = true", lockout=True)
    return {"account_locked": locked,
            "lockout_budget": _pick(users, "the `lockout-budget` scenario's user",
                                    "add another domain user with lockout = true",
                                    lockout=True, taken=(locked,))}
