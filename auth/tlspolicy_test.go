package auth_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/auth"
)

// tlsViolations reports every tls.Config literal in src that sets
// InsecureSkipVerify: true, or a MinVersion below TLS 1.2 without a
// MaxVersion (a config with MaxVersion is a test server built old on
// purpose).
func tlsViolations(fset *token.FileSet, f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		sel, ok := lit.Type.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Config" {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "tls" {
			return true
		}
		fields := map[string]ast.Expr{}
		for _, e := range lit.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok {
					fields[k.Name] = kv.Value
				}
			}
		}
		if v, ok := fields["InsecureSkipVerify"].(*ast.Ident); ok && v.Name != "false" {
			out = append(out, fset.Position(lit.Pos()).String()+": InsecureSkipVerify")
		}
		if v, ok := fields["MinVersion"]; ok && fields["MaxVersion"] == nil {
			var name string
			switch v := v.(type) {
			case *ast.SelectorExpr:
				name = v.Sel.Name
			case *ast.BasicLit:
				name = v.Value
			}
			if name != "VersionTLS12" && name != "VersionTLS13" {
				out = append(out, fset.Position(lit.Pos()).String()+": MinVersion "+name)
			}
		}
		return true
	})
	return out
}

func TestTLSPolicyScanCatchesViolations(t *testing.T) {
	src := `package p
import "crypto/tls"
var a = &tls.Config{InsecureSkipVerify: true}
var b = tls.Config{MinVersion: tls.VersionTLS10}
var c = tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
var d = &tls.Config{MinVersion: tls.VersionTLS12}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := tlsViolations(fset, f); len(got) != 2 {
		t.Errorf("violations %q, want a and b", got)
	}
}

// allowedTLS lists test files whose below-policy client configs are
// deliberate controls: internal/httpx's TLS-floor test and auth's
// TLS-policy test each prove with a TLS 1.0-allowing client that their
// server really serves TLS 1.1, so the refusal they then show is the
// policy's doing. The Vault store's client test builds unsafe clients on
// purpose, to show that the store refuses them.
var allowedTLS = map[string]bool{
	"internal/httpx/tls_test.go":            true,
	"auth/tls_test.go":                      true,
	"auth/secretstore/vault/client_test.go": true,
}

func TestNoInsecureTLSConfigInModule(t *testing.T) {
	if c := auth.TLSConfig(nil); c.MinVersion < 0x0303 || c.InsecureSkipVerify {
		t.Errorf("TLSConfig: %+v", c)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // a file being edited elsewhere; go vet reports it
		}
		files++
		rel, _ := filepath.Rel(root, p)
		for _, v := range tlsViolations(fset, f) {
			if allowedTLS[filepath.ToSlash(rel)] {
				t.Logf("allowed deliberate test config: %s", v)
				continue
			}
			t.Errorf("insecure tls.Config: %s", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Errorf("scanned only %d files", files)
	}
}
