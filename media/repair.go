package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mmq/mmq/internal/command"
	"github.com/mmq/mmq/tasks"
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
//
// qpdf runs through internal/command: its output may exceed the input by
// at most tasks.MaxDecodedBytes (streams stay compressed, so only object
// streams written out plain and rebuilt tables add to it; a bomb in an
// object stream is killed at the cap), its address space is the package's
// default limit, and o.RepairTimeout bounds the run.
func repairPDF(ctx context.Context, data []byte, password string, o PDFOptions) ([]byte, error) {
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

	res, err := command.Run(ctx, command.Spec{
		Path: o.QPDFPath,
		Args: []string{"--password-file=-", "--decrypt",
			"--object-streams=disable", "--stream-data=preserve",
			in.Name(), "-"},
		Stdin:     strings.NewReader(password),
		Timeout:   o.RepairTimeout,
		MaxStdout: int64(len(data)) + tasks.MaxDecodedBytes,
		MaxStderr: maxStderr,
	})
	var cerr *command.Error
	if errors.As(err, &cerr) && errors.Is(err, command.ErrExit) && cerr.ExitCode == qpdfWarnings {
		err = nil
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("media: repair: %w", err)
	case len(res.Stdout) == 0:
		return nil, errors.New("media: repair: qpdf wrote nothing")
	}
	return res.Stdout, nil
}
