"""Clients of a running lab that lab itself uses: Active Directory (`ad`: DNS SRV
discovery, kinit, LDAP), curl arguments per proxy port (`curl`), `lab check`
(`check`) and `lab fetch` (`fetch`, through `lab.proxy`). They take typed
endpoints (`lab.endpoints`) and know nothing of Docker.
"""
