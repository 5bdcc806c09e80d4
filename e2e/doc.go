// Package e2e holds the browser tests: playwright-go driving headless
// Chromium against a real `omtx serve` on loopback, docking with real
// AutoDock Vina. It has no code besides its tests; see README.md.
package e2e
