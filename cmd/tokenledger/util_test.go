package main

import "github.com/tokenledger/tokenledger/projections/auditlog"

// auditQuery is every event of one aggregate ("" for all), oldest first.
func auditQuery(aggregate string) auditlog.Query {
	return auditlog.Query{AggregateID: aggregate, Limit: 1000}
}
