// Package archtest holds the test that keeps the import rules of the
// architecture true (see the README's Architecture section). It has no
// code of its own.
package archtest
