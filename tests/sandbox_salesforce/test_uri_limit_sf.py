"""Salesforce's 16,384-byte limit on a REST call's URI and headers, through simple-salesforce: a
longer SOQL query in `q` answers 414 (as the real API does), and the connector's own longest
queries (an IN list of 200 ids, 40 domains of LIKE filters) stay under it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from simple_salesforce.exceptions import SalesforceError

from connectors.salesforce.soql import IN_CHUNK, in_list, quote
from sandbox.salesforce.errors import REQUEST_LINE_LIMIT
from tests.sandbox_salesforce.conftest import SalesforceSandbox, make_portal


def test_a_query_longer_than_the_uri_limit_is_refused_and_the_connectors_fit(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    box = start_sandbox(make_portal(leads=5, contacts=0))
    sf = box.client()
    ids = [f"00Q5g0000{i:09d}AAA" for i in range(IN_CHUNK)]
    fitting = f"SELECT Id, WhoId FROM Task WHERE WhoId IN {in_list(ids)}"
    assert sf.query(fitting)["done"] is True
    likes = " OR ".join(
        f"Website LIKE {quote(f'%domain-number-{i}.example.com%')}" for i in range(40)
    )
    assert sf.query(f"SELECT Id FROM Account WHERE {likes}")["done"] is True
    many = [f"00Q5g0000{i:09d}AAA" for i in range(1000)]
    too_long = f"SELECT Id, WhoId FROM Task WHERE WhoId IN {in_list(many)}"
    assert len(too_long) > REQUEST_LINE_LIMIT
    with pytest.raises(SalesforceError) as refused:
        sf.query(too_long)
    assert refused.value.status == 414
    assert box.emulator.log.total("too_long", 414) == 1
