package restore

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chatvault/chatvault/remote"
)

// lossTable is the table of doc.go's "What one API cannot carry into the
// other", made from remote.Losses for the kinds restore writes.
func lossTable() string {
	var b strings.Builder
	for _, dir := range [][2]string{{remote.APIChat, remote.APIConversations}, {remote.APIConversations, remote.APIChat}} {
		fmt.Fprintf(&b, "// From %s into %s:\n//\n", apiTitle(dir[0]), apiTitle(dir[1]))
		for _, kind := range restoredKinds {
			for _, l := range remote.Losses(kind, dir[0], dir[1]) {
				fmt.Fprintf(&b, "//\t%-8s %-22s %s\n", l.Kind, l.Field, l.Why)
			}
		}
		b.WriteString("//\n")
	}
	return b.String()
}

// TestLossTableInDoc: the table in doc.go is remote.Losses, the one table,
// so the two cannot drift apart.
func TestLossTableInDoc(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	if want := lossTable(); !strings.Contains(string(doc), want) {
		t.Errorf("doc.go does not hold the table of remote.Losses; put this under \"What one API cannot carry into the other\":\n%s", want)
	}
}
