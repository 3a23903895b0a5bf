package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// qpdfWarnings is qpdf's exit status when it wrote its output but warned
// about damage it worked around: for a repair, a success.
const qpdfWarnings = 3

// maxStderr bounds how much of qpdf's diagnostics is kept for the logs.
const maxStderr = 2 << 10

// repairPDF has qpdf rewrite data: it reconstructs a damaged xref table,
// recovers stream lengths, removes the encryption (opening the file with
// password) and writes no object streams, which leaves pdfcpu the simplest
// file to read. The input goes through a temporary file because qpdf needs
// to seek in it; the password goes through stdin, never the command line
// where other users could read it; the output comes back on stdout, so
// the decrypted document never touches the disk.
func repairPDF(ctx context.Context, data []byte, password string, o PDFOptions) ([]byte, error) {
	qpdf, err := exec.LookPath(o.QPDFPath)
	if err != nil {
		return nil, fmt.Errorf("media: repair: %w", err)
	}
	in, err := os.CreateTemp("", "mmq-repair-*.pdf")
	if err != nil {
		return nil, fmt.Errorf("media: repair: %w", err)
	}
	defer os.Remove(in.Name())
	_, err = in.Write(data)
	if cerr := in.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("media: repair: write input: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, o.RepairTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qpdf,
		"--password-file=-", "--decrypt",
		"--object-streams=disable", "--stream-data=preserve",
		in.Name(), "-")
	cmd.Stdin = strings.NewReader(password)
	var out bytes.Buffer
	out.Grow(len(data) + len(data)/4)
	stderr := &limitedBuffer{max: maxStderr}
	cmd.Stdout, cmd.Stderr = &out, stderr
	cmd.WaitDelay = 5 * time.Second

	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("media: repair: qpdf: %w", ctx.Err())
	case err == nil, errors.As(err, &exit) && exit.ExitCode() == qpdfWarnings:
		if out.Len() == 0 {
			return nil, errors.New("media: repair: qpdf wrote nothing")
		}
		return out.Bytes(), nil
	}
	return nil, fmt.Errorf("media: repair: qpdf: %w: %s", err, strings.TrimSpace(stderr.String()))
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest, so that a chatty child cannot grow the parent's memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
