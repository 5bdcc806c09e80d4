package handlers_test

import (
	"os"
	"testing"

	"omtx/firebaseauth/firebaseauthtest"
)

// TestMain stops the Firebase Auth emulator that the Firebase sign-in
// tests start on first use (firebaseauthtest.Need).
func TestMain(m *testing.M) { os.Exit(firebaseauthtest.Main(m)) }
