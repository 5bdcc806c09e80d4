package accounts

// SetMaxSize changes how many tokens c holds at most.
func (c *TokenCache) SetMaxSize(n int) { c.max = n }
