package remote

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// clientConfig turns an endpoint into an ssh.ClientConfig. Authentication methods are offered in
// the order privateKey, password (+ keyboard-interactive with the password as every answer),
// agent. An agent socket (explicit, or $SSH_AUTH_SOCK) that cannot be opened is an error.
func (e *endpoint) clientConfig() (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{
		User:    *e.User,
		Timeout: time.Duration(*e.PerDialTimeout) * time.Second,
	}

	if e.HostKey == nil {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // unset hostKey means "do not check"
	} else {
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*e.HostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(want)
		cfg.HostKeyAlgorithms = []string{want.Type()}
	}

	if e.PrivateKey != nil {
		var (
			signer ssh.Signer
			err    error
		)
		if e.PrivateKeyPassword == nil {
			signer, err = ssh.ParsePrivateKey([]byte(*e.PrivateKey))
		} else {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*e.PrivateKey), []byte(*e.PrivateKeyPassword))
		}
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}

	if e.Password != nil {
		password := *e.Password
		cfg.Auth = append(cfg.Auth,
			ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}

	socket := ""
	if e.AgentSocketPath != nil {
		socket = *e.AgentSocketPath
	} else if env := os.Getenv("SSH_AUTH_SOCK"); env != "" {
		socket = env
	}
	if e.AgentSocketPath != nil || socket != "" {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			return nil, err
		}
		// Like the real provider, the agent connection stays open for the life of the process.
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return cfg, nil
}

func (e *endpoint) address() string {
	return net.JoinHostPort(*e.Host, strconv.Itoa(int(*e.Port)))
}

func (e *endpoint) dialLimit() int {
	if e.DialErrorLimit == nil {
		return defaultDialErrorLimit
	}
	return *e.DialErrorLimit
}

// withDialRetries calls attempt until it succeeds, or until it has failed more than limit times
// (limit -1: never give up). Each failure that is retried is shown as the status message
// "<what> <n>/<limit> failed: retrying" (limit "inf" when unlimited); waits between attempts grow
// from 100 ms by 1.5x up to 5 s (pulumi's retry.Until defaults). The final error counts the
// retried failures: with limit 10 there are 11 attempts and the error reads
// "after 10 failed attempts: <last error>".
func withDialRetries[T any](ctx context.Context, what string, limit int, attempt func() (T, error)) (T, error) {
	var zero T
	ok, value, err := retry.Until(ctx, retry.Acceptor{
		Accept: func(try int, _ time.Duration) (bool, any, error) {
			got, err := attempt()
			if err == nil {
				return true, got, nil
			}
			failures := try + 1
			if limit >= 0 && failures > limit {
				return true, nil, fmt.Errorf("after %d failed attempts: %w", try, err)
			}
			shown := "inf"
			if limit >= 0 {
				shown = strconv.Itoa(limit)
			}
			p.GetLogger(ctx).InfoStatusf("%s %d/%s failed: retrying", what, failures, shown)
			return false, nil, nil
		},
	})
	if err != nil {
		return zero, err
	}
	if !ok {
		// retry.Until gave up because the context ended.
		return zero, ctx.Err()
	}
	return value.(T), nil
}

// dial opens an SSH client to the connection's host, through its proxy when one is set.
func (c *Connection) dial(ctx context.Context) (*ssh.Client, error) {
	cfg, err := c.clientConfig()
	if err != nil {
		return nil, err
	}
	target := c.address()
	limit := c.dialLimit()

	if c.Proxy == nil {
		return withDialRetries(ctx, "Dial", limit, func() (*ssh.Client, error) {
			return ssh.Dial("tcp", target, cfg)
		})
	}

	proxyCfg, err := c.Proxy.clientConfig()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	bastion, err := withDialRetries(ctx, "Dial proxy", c.Proxy.dialLimit(), func() (*ssh.Client, error) {
		return ssh.Dial("tcp", c.Proxy.address(), proxyCfg)
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	tunnel, err := withDialRetries(ctx, "Dial from proxy", limit, func() (net.Conn, error) {
		return bastion.Dial("tcp", target)
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	type handshake struct {
		conn  ssh.Conn
		chans <-chan ssh.NewChannel
		reqs  <-chan *ssh.Request
	}
	h, err := withDialRetries(ctx, "Dial", limit, func() (handshake, error) {
		conn, chans, reqs, err := ssh.NewClientConn(tunnel, target, cfg)
		return handshake{conn, chans, reqs}, err
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return ssh.NewClient(h.conn, h.chans, h.reqs), nil
}
