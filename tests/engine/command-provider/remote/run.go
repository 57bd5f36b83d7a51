package remote

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
)

// The variables that carry the previous run's output (addPreviousOutputInEnv).
const (
	envPreviousStdout = "PULUMI_COMMAND_STDOUT"
	envPreviousStderr = "PULUMI_COMMAND_STDERR"
)

// setenvHint is the real provider's diagnostic for a refused `env` request, byte for byte
// (including the line breaks and tabs of its source).
const setenvHint = "Unable to set '%s'. This only works if your SSH server is configured to accept\n" +
	"\tthese variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could\n" +
	"\tprefix the command itself with the variables in the form 'VAR=value command'"

// setenvFailed logs the hint at the given severity and returns the error for the variable.
func setenvFailed(ctx context.Context, severity diag.Severity, name string, err error) error {
	msg := fmt.Sprintf(setenvHint, name)
	log := p.GetLogger(ctx)
	switch severity {
	case diag.Error:
		log.Error(msg)
	case diag.Warning:
		log.Warning(msg)
	default:
		log.Info(msg)
	}
	return fmt.Errorf("could not set environment variable %q: %w", name, err)
}

// lockedBuffer is a buffer that stdout and stderr (copied by two goroutines) can both append to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(data)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// streamLines sends every line read from r to the engine as an info status message (the
// "Info" column of the progress display), then closes done. Like the real provider it uses a
// bufio.Scanner with its default 64 KiB line limit.
func streamLines(ctx context.Context, r io.Reader, done chan<- struct{}) {
	defer close(done)
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		p.GetLogger(ctx).InfoStatus(lines.Text())
	}
}

// execute runs cmd on the connection's host and, on success, records its stdout and stderr (each
// less one trailing newline) in the state. On failure the state keeps its previous output and the
// error reads "<ssh error>: running \"<cmd>\":\n<stdout and stderr as they arrived>".
//
// The environment and the previous output are sent as SSH `env` requests: a refused environment
// variable fails the run (after an error diagnostic); a refused PULUMI_COMMAND_STDOUT/STDERR only
// draws a warning. Empty previous output is not sent.
func (s *CommandOutputs) execute(ctx context.Context, cmd string, logging *Logging) error {
	// The real provider never closes the client (only the session); neither does the stand-in, so
	// a deployment holds one SSH connection per run until the provider exits.
	client, err := s.Connection.dial(ctx)
	if err != nil {
		return err
	}
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()

	for name, value := range s.Environment {
		if err := session.Setenv(name, value); err != nil {
			return setenvFailed(ctx, diag.Error, name, err)
		}
	}

	if s.AddPreviousOutputInEnv == nil || *s.AddPreviousOutputInEnv {
		for _, prev := range []struct{ name, value string }{
			{envPreviousStdout, s.Stdout},
			{envPreviousStderr, s.Stderr},
		} {
			if prev.value == "" {
				continue
			}
			if err := session.Setenv(prev.name, prev.value); err != nil {
				_ = setenvFailed(ctx, diag.Warning, prev.name, err)
			}
		}
	}

	if s.Stdin != nil && *s.Stdin != "" {
		session.Stdin = strings.NewReader(*s.Stdin)
	}

	var stdout, stderr bytes.Buffer
	var combined lockedBuffer
	logReader, logWriter := io.Pipe()
	outWriters := []io.Writer{&stdout, &combined}
	if logging.logsStdout() {
		outWriters = append(outWriters, logWriter)
	}
	errWriters := []io.Writer{&stderr, &combined}
	if logging.logsStderr() {
		errWriters = append(errWriters, logWriter)
	}
	session.Stdout = io.MultiWriter(outWriters...)
	session.Stderr = io.MultiWriter(errWriters...)

	logged := make(chan struct{})
	go streamLines(ctx, logReader, logged)

	runErr := session.Run(cmd)
	_ = logWriter.Close()
	<-logged

	if runErr != nil {
		return fmt.Errorf("%w: running %q:\n%s", runErr, cmd, combined.String())
	}
	s.Stdout = strings.TrimSuffix(stdout.String(), "\n")
	s.Stderr = strings.TrimSuffix(stderr.String(), "\n")
	return nil
}
