package remote

import (
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func TestPerDialTimeoutIsTheTCPConnectTimeout(t *testing.T) {
	for _, tc := range []struct {
		seconds int
		want    time.Duration
	}{{15, 15 * time.Second}, {0, 0}, {2, 2 * time.Second}} {
		e := endpoint{User: ptr("root"), Host: ptr("h"), Port: ptr(22.0), PerDialTimeout: ptr(tc.seconds),
			AgentSocketPath: nil}
		t.Setenv("SSH_AUTH_SOCK", "")
		cfg, err := e.clientConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Timeout != tc.want {
			t.Errorf("perDialTimeout %d: timeout %v, want %v", tc.seconds, cfg.Timeout, tc.want)
		}
		if cfg.User != "root" || len(cfg.Auth) != 0 {
			t.Errorf("user %q, %d auth methods", cfg.User, len(cfg.Auth))
		}
	}
}

func TestPasswordOffersPasswordAndKeyboardInteractive(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	e := endpoint{User: ptr("u"), Host: ptr("h"), Port: ptr(22.0), PerDialTimeout: ptr(15), Password: ptr("pw")}
	cfg, err := e.clientConfig()
	if err != nil {
		t.Fatal(err)
	}
	// password, then keyboard-interactive answering the password
	if len(cfg.Auth) != 2 {
		t.Fatalf("%d auth methods, want 2", len(cfg.Auth))
	}
	e.PrivateKey = ptr("garbage")
	if _, err := e.clientConfig(); err == nil || err.Error() != "ssh: no key found" {
		t.Errorf("an unparsable key: %v", err)
	}
}

func TestAddressJoinsHostAndPort(t *testing.T) {
	e := endpoint{Host: ptr("::1"), Port: ptr(2222.0)}
	if got := e.address(); got != "[::1]:2222" {
		t.Errorf("address %q", got)
	}
}
