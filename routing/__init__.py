"""Lead routing: existing owner -> account owner -> territory rotation -> fallback.

- `routing.router`: `Router` (the entry point)
- `routing.decision`: `RoutingLead` (what it is asked), `RoutingDecision` (what it answers)
- `routing.directory`: `OwnerDirectory`, `RepStatus` (who is active / away, from the CRMs)
- `routing.territory`: pure territory matching with specificity (also used by `config validate`)
- `routing.rotation`: the weighted rotation (fair to within one lead of each rep's share)
- `routing.availability`: why a rep is skipped (inactive, out of office, hours, capacity)
- `routing.ledger` / `routing.tables`: rotation locks and the assignment record in the state store
"""
