package integrity

// Grow makes room in the tree for n more records without reallocating
// (projections.Grower): a replay of n events then appends without
// copying the tree as it grows.
func (l *Log) Grow(n int) { l.tree.Grow(n) }
