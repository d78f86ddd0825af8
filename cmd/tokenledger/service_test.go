package main

import "github.com/tokenledger/tokenledger/internal/service"

// The end-to-end tests below drive internal/service under the names they
// had while it lived in this package.
type (
	Config     = service.Config
	Main       = service.Main
	NATSLimits = service.NATSLimits
)

var (
	NewMain     = service.NewMain
	ParseConfig = service.ParseConfig
)
