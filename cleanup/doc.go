// Package cleanup removes expired and revoked tokens from a
// django-oauth-toolkit database exactly as DOT's `manage.py cleartokens`
// does, in batches, with each condition re-checked inside the deleting
// statement, memory flat whatever the row count, and cancellation honoured
// between batches.
package cleanup
