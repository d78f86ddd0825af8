package ledgerkey

// PrecheckedLen is how many events Precheck proved that Check has not
// taken yet.
func (c *Chain) PrecheckedLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.prechecked)
}
