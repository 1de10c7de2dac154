"""`lab dns` and `lab ad`: the lab's DNS and its AD domain, from the command line."""

from __future__ import annotations

from lab.cli.common import say as _say
from lab.cli.common import stack_of as _stack
from lab.errors import StackError


def cmd_dns(args) -> int:
    from lab.clients.ad import make_resolver, query

    dns_ep = _stack(args).endpoints().dns
    answer = query(make_resolver(dns_ep.host, dns_ep.port), args.name, args.type)
    for record in answer:
        print(f"{answer.qname} {answer.rrset.ttl} {args.type.upper()} {record.to_text()}")
    return 0


def cmd_ad_users(args) -> int:
    from lab.config.discovery import load_config

    config = load_config(file=args.config)
    print(f"{'user':<12} {'exists in':<18} {'account':<24} groups")
    for user in config.users:
        where = "+".join(sorted(user.places)) + (" (service)" if user.service else "")
        account = (user.state + (", lockout policy" if user.lockout else "")
                   if user.in_domain else "-")
        print(f"{user.name:<12} {where:<18} {account:<24} {', '.join(user.groups) or '-'}")
    for group in config.groups:
        members = [u.name for u in config.users if group.name in u.groups]
        print(f"group {group.name}: {', '.join(members) or '(empty)'}  {group.description}")
    return 0


def cmd_ad_kinit(args) -> int:
    from lab.clients.ad import kinit

    stack = _stack(args)
    endpoints = stack.endpoints()
    user = stack.config.user(args.user)
    if not user.in_domain:
        raise StackError(f"{user.name} is not a domain user (see `lab ad users`)")
    kdc = endpoints.dc.kerberos
    session = kinit(user.name, user.password, endpoints.dc.realm, kdc.host, kdc.port)
    _say(f"ticket for {session.principal}; use it with:")
    for name, value in session.env.items():
        print(f"export {name}={value}")
    return 0


def add_parsers(sub) -> None:
    dns = sub.add_parser("dns", help="query the lab's DNS server")
    dns.add_argument("name")
    dns.add_argument("type", nargs="?", default="A")
    dns.set_defaults(func=cmd_dns)
    ad = sub.add_parser("ad", help="the AD domain: users, tickets")
    ad_sub = ad.add_subparsers(dest="ad_command", required=True, metavar="COMMAND")
    ad_sub.add_parser("users", help="lab users and groups, and where each exists"
                      ).set_defaults(func=cmd_ad_users)
    kinit = ad_sub.add_parser("kinit", help="a ticket for a lab user, in a private cache")
    kinit.add_argument("user")
    kinit.set_defaults(func=cmd_ad_kinit)
