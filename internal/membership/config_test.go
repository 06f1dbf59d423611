package membership

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.NodeID = 3
		c.Meta = testMeta(3)
		return c
	}
	if c := valid(); c.Validate() != nil {
		t.Fatalf("valid config refused: %v", c.Validate())
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   error
		msg    string
	}{
		{"negative id", func(c *Config) { c.NodeID, c.Meta.NodeID = -1, -1 }, ErrInvalidConfig, "negative"},
		{"meta of another id", func(c *Config) { c.Meta.NodeID = 4 }, ErrInvalidConfig, "Meta.NodeID 4"},
		{"bind host name", func(c *Config) { c.BindAddr = "localhost:0" }, ErrInvalidConfig, "not an IP"},
		{"bind without port", func(c *Config) { c.BindAddr = "127.0.0.1" }, ErrInvalidConfig, "BindAddr"},
		{"bind port too big", func(c *Config) { c.BindAddr = "127.0.0.1:70000" }, ErrInvalidConfig, "bad port"},
		{"wildcard bind without advertise", func(c *Config) { c.BindAddr = "0.0.0.0:7946" }, ErrInvalidConfig, "set AdvertiseAddr"},
		{"wildcard advertise", func(c *Config) { c.BindAddr, c.AdvertiseAddr = "0.0.0.0:7946", "0.0.0.0:7946" }, ErrInvalidConfig, "wildcard"},
		{"advertise host name", func(c *Config) { c.AdvertiseAddr = "broker-1:7946" }, ErrInvalidConfig, "not an IP"},
		{"join port 0", func(c *Config) { c.Join = []string{"127.0.0.1:0"} }, ErrInvalidConfig, "Join address"},
		{"join without host", func(c *Config) { c.Join = []string{":7946"} }, ErrInvalidConfig, "empty host"},
		{"negative buffer", func(c *Config) { c.EventBuffer = -1 }, ErrInvalidConfig, "EventBuffer"},
		{"meta too large", func(c *Config) { c.Meta.Version = strings.Repeat("v", 500) }, ErrMetaTooLarge, "version 502 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Validate = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
	for _, ok := range []func(*Config){
		func(c *Config) { c.BindAddr, c.AdvertiseAddr = "0.0.0.0:7946", "10.0.0.3:0" },
		func(c *Config) { c.BindAddr = "[::1]:0" },
		func(c *Config) { c.Join = []string{"broker-1.strom.svc:7946", "10.0.0.1:7946"} },
	} {
		c := valid()
		ok(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", c, err)
		}
	}
}
