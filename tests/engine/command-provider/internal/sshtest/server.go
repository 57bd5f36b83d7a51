// Package sshtest is a small SSH server for the stand-in's tests: it listens on 127.0.0.1, runs
// `exec` requests with /bin/sh, accepts or refuses `env` requests like OpenSSH's AcceptEnv, forwards `direct-tcpip` channels (for proxy
// tests), and records what it was asked.
package sshtest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Exec is a command the server ran.
type Exec struct {
	Command string
	Env     map[string]string // the accepted env requests of its session
	Stdin   string
}

// EnvRequest is an `env` request the server received.
type EnvRequest struct {
	Name, Value string
	Accepted    bool
}

// Server is a running test SSH server.
type Server struct {
	Host string
	Port int
	// HostKey is the server's public host key in authorized_keys format.
	HostKey string
	// ClientKey is an OpenSSH private key the server accepts.
	ClientKey string
	// ClientSigner and ClientPrivate are ClientKey parsed.
	ClientSigner  ssh.Signer
	ClientPrivate ed25519.PrivateKey
	// User and Password are accepted for password and keyboard-interactive authentication.
	User, Password string

	listener  net.Listener
	mu        sync.Mutex
	acceptEnv func(name string) bool
	dropFirst int
	conns     []net.Conn
	accepts   int
	execs     []Exec
	envReqs   []EnvRequest
	forwards  []string

}

// NewKey returns a fresh ed25519 key as an OpenSSH private key, its signer and the raw key.
func NewKey(t testing.TB) (string, ssh.Signer, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), signer, priv
}

// Start starts a server, stopped (with every connection closed) when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	_, hostSigner, _ := NewKey(t)
	clientKey, clientSigner, clientPriv := NewKey(t)
	s := &Server{
		HostKey:       strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))),
		ClientKey:     clientKey,
		ClientSigner:  clientSigner,
		ClientPrivate: clientPriv,
		User:          "deploy",
		Password:      "s3cret",
	}
	authorized := clientSigner.PublicKey().Marshal()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), authorized) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
		PasswordCallback: func(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			if meta.User() == s.User && string(password) == s.Password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
	}
	cfg.AddHostKey(hostSigner)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.listener = l
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	go s.serve(cfg)
	t.Cleanup(s.Close)
	return s
}

// AcceptEnv sets which env requests are accepted, like OpenSSH's AcceptEnv (default: all).
func (s *Server) AcceptEnv(accept func(name string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acceptEnv = accept
}

// DropFirst makes the server close its next n connections unanswered (after reading the
// client's version line), like a host whose sshd is not up yet.
func (s *Server) DropFirst(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropFirst = s.accepts + n
}

// Close stops the server and closes every connection.
func (s *Server) Close() {
	_ = s.listener.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		_ = c.Close()
	}
}

func (s *Server) serve(cfg *ssh.ServerConfig) {
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepts++
		s.conns = append(s.conns, conn)
		drop := s.accepts <= s.dropFirst
		s.mu.Unlock()
		if drop {
			go hangUp(conn)
			continue
		}
		go s.handle(conn, cfg)
	}
}

func (s *Server) handle(conn net.Conn, cfg *ssh.ServerConfig) {
	sconn, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		_ = conn.Close()
		return
	}
	defer sconn.Close()
	go ssh.DiscardRequests(reqs)
	for ch := range chans {
		switch ch.ChannelType() {
		case "session":
			go s.session(ch)
		case "direct-tcpip":
			go s.forward(ch)
		default:
			_ = ch.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

func (s *Server) session(newCh ssh.NewChannel) {
	ch, reqs, err := newCh.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	env := map[string]string{}
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &kv); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			s.mu.Lock()
			ok := s.acceptEnv == nil || s.acceptEnv(kv.Name)
			s.envReqs = append(s.envReqs, EnvRequest{kv.Name, kv.Value, ok})
			s.mu.Unlock()
			if ok {
				env[kv.Name] = kv.Value
			}
			_ = req.Reply(ok, nil)
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			status := s.run(ch, cmd.Command, env)
			payload := make([]byte, 4)
			binary.BigEndian.PutUint32(payload, uint32(status))
			_, _ = ch.SendRequest("exit-status", false, payload)
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// run runs command with /bin/sh, with stdin, stdout and stderr on the channel.
func (s *Server) run(ch ssh.Channel, command string, env map[string]string) int {
	var stdin bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = io.TeeReader(ch, &stdin)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	err := cmd.Run()
	record := Exec{Command: command, Env: env, Stdin: stdin.String()}
	s.mu.Lock()
	s.execs = append(s.execs, record)
	s.mu.Unlock()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		fmt.Fprintf(ch.Stderr(), "sshtest: %v\n", err)
		return 255
	}
}

func (s *Server) forward(newCh ssh.NewChannel) {
	var target struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(newCh.ExtraData(), &target); err != nil {
		_ = newCh.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	addr := net.JoinHostPort(target.Host, strconv.Itoa(int(target.Port)))
	s.mu.Lock()
	s.forwards = append(s.forwards, addr)
	s.mu.Unlock()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		_ = newCh.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := newCh.Accept()
	if err != nil {
		_ = conn.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	go func() {
		_, _ = io.Copy(ch, conn)
		_ = ch.CloseWrite()
	}()
	_, _ = io.Copy(conn, ch)
	_ = conn.Close()
}

// Execs returns the commands run so far.
func (s *Server) Execs() []Exec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Exec(nil), s.execs...)
}

// EnvRequests returns the env requests received so far.
func (s *Server) EnvRequests() []EnvRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]EnvRequest(nil), s.envReqs...)
}

// Accepts is the number of TCP connections accepted so far.
func (s *Server) Accepts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts
}

// Forwards lists the direct-tcpip targets requested so far.
func (s *Server) Forwards() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.forwards...)
}

// Refuser is a TCP listener that reads the client's version line and closes the connection (an
// SSH dial fails with "ssh: handshake failed: EOF"), counting them.
type Refuser struct {
	Port     int
	listener net.Listener
	mu       sync.Mutex
	accepts  int
}

// StartRefuser starts a Refuser, stopped when the test ends.
func StartRefuser(t testing.TB) *Refuser {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Refuser{Port: l.Addr().(*net.TCPAddr).Port, listener: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.accepts++
			r.mu.Unlock()
			go hangUp(c)
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	return r
}

// Accepts is the number of connections accepted so far.
func (r *Refuser) Accepts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepts
}

// hangUp reads the client's version line, then closes the connection: the client's dial fails
// with "ssh: handshake failed: EOF".
func hangUp(c net.Conn) {
	_, _ = bufio.NewReader(c).ReadString('\n')
	_ = c.Close()
}
