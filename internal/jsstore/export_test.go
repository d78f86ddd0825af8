package jsstore

import "testing"

// SetLoadPageSize makes Load page after n messages for the rest of the test.
func SetLoadPageSize(tb testing.TB, n int) {
	old := loadPageSize
	loadPageSize = n
	tb.Cleanup(func() { loadPageSize = old })
}
