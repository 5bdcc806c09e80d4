package rfantibody

import (
	"os"
	"testing"

	"omtx/gpu/standin/standintest"
)

// TestMain shares one stand-in binary among the package's tests.
func TestMain(m *testing.M) { os.Exit(standintest.Main(m)) }
