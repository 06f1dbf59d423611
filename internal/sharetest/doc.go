// Package sharetest holds test helpers for share groups (KIP-932) used by
// the tests of more than one package: the server's, the in-process
// cluster's and the process tests against the strom binary. It imports
// nothing internal, so any test package may use it.
package sharetest
