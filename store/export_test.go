package store

// PlainRecords makes a store resources uncompressed, as format 1 did: for
// measuring what compression saves. Call it before writing.
func PlainRecords(a *Archive) { a.plain = true }
