package wire

// ClientSoftware is the client software name and version an ApiVersions
// v3+ request announced (KIP-511). Handlers that describe clients (KIP-714
// client metrics selectors) read it; the value is whatever the client sent.
type ClientSoftware struct {
	Name, Version string
}

// SetClientSoftware records the connection's client software; the handler
// of ApiVersions calls it. Safe for concurrent use.
func (c *ConnInfo) SetClientSoftware(name, version string) {
	c.software.Store(&ClientSoftware{Name: name, Version: version})
}

// ClientSoftware is what SetClientSoftware recorded, zero before.
func (c *ConnInfo) ClientSoftware() ClientSoftware {
	if p := c.software.Load(); p != nil {
		return *p
	}
	return ClientSoftware{}
}
