package jobspec

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// MaxFileSize is the largest file that file() reads. It matches the limit on
// command and script, so anything bigger would be rejected anyway.
const MaxFileSize = 1 << 20

// evalContext returns the only functions a spec may call; there are no
// variables, so a spec means the same thing wherever it is submitted from,
// apart from what env() and file() deliberately read.
func evalContext(baseDir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"file": fileFunc(baseDir),
			"env":  envFunc,
		},
	}
}

// fileFunc reads a UTF-8 text file; relative paths are relative to baseDir,
// the directory of the spec, not the working directory, so that a spec and
// its script can be moved together.
func fileFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a text file; relative paths are relative to the job spec's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			s, err := readFile(baseDir, args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			return cty.StringVal(s), nil
		},
	})
}

func readFile(baseDir, name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf(`the path is empty; give the file to read, e.g. file("run.sh")`)
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	// Stat before opening: opening a FIFO or a device could block or never end.
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w; relative paths are relative to the job spec's directory (%s)", path, unwrapPathError(err), baseDir)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file; file() reads text files such as scripts", path)
	}
	tooBig := fmt.Errorf("%s is larger than 1 MiB, the most file() reads; keep large data in a volume and read it from the job", path)
	if fi.Size() > MaxFileSize {
		return "", tooBig
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	// The limit also holds if the file grew since Stat.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, unwrapPathError(err))
	}
	if len(b) > MaxFileSize {
		return "", tooBig
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s is not UTF-8 text; file() only reads text files", path)
	}
	return string(b), nil
}

// unwrapPathError drops the *PathError wrapper, whose message would repeat
// the path.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// envFunc returns the submitter's environment variable, "" if unset, so a
// spec can be parameterised without a template language.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable of the submitter, or an empty string if it is unset.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		// cty strings must be valid UTF-8; the environment need not be.
		return cty.StringVal(strings.ToValidUTF8(os.Getenv(args[0].AsString()), "\uFFFD")), nil
	},
})
