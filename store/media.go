package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// MediaRecord ties a service's media SID to the archived file's content.
// It is versioned like the other resources of the service (entity = ME SID),
// so snapshots see the media of their time and forget frees what no kept
// snapshot sees; the content is stored once per SHA-256 across services.
type MediaRecord struct {
	SID         string `json:"sid"`
	SHA256      string `json:"sha256"` // lower-case hex of the content
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Filename    string `json:"filename"`
	Raw         []byte `json:"-"` // the Media resource as the service returned it, if any
}

// UserRecord is an archived user (US…).
type UserRecord struct {
	SID      string
	Identity string
	Raw      []byte
}

// mediaDoc is the stored JSON of a media version: the record, with the
// Media resource nested as "resource" exactly as given (less any white
// space around it).
type mediaDoc struct {
	MediaRecord
	Resource json.RawMessage `json:"resource,omitempty"`
}

// encodeMedia renders m as stored. The resource is spliced in rather than
// marshalled: encoding/json would compact it and escape HTML characters.
func encodeMedia(m MediaRecord) ([]byte, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	raw := bytes.TrimSpace(m.Raw)
	if len(raw) == 0 {
		return js, nil
	}
	js = append(js[:len(js)-1], `,"resource":`...)
	js = append(js, raw...)
	return append(js, '}'), nil
}

func decodeMedia(payload []byte) (MediaRecord, error) {
	var d mediaDoc
	if err := json.Unmarshal(payload, &d); err != nil {
		return MediaRecord{}, fmt.Errorf("media record: %v", err)
	}
	m := d.MediaRecord
	if len(d.Resource) > 0 {
		m.Raw = []byte(d.Resource)
	}
	return m, nil
}

// PutMedia records a media SID of the writer's service in its snapshot.
// The content must have been stored with PutContent first; Size 0 means
// the content's size, any other Size must be it. Raw, when given, must be
// JSON.
func (w *Writer) PutMedia(m MediaRecord) error {
	if err := w.checkEntity("media SID", m.SID); err != nil {
		return err
	}
	if len(m.Raw) > 0 {
		if err := w.checkJSON("media "+m.SID, m.Raw); err != nil {
			return err
		}
	}
	if _, err := parseSHA(m.SHA256); err != nil {
		return w.invalid("media %s: %v", m.SID, err)
	}
	doc, found, err := w.a.content(m.SHA256)
	switch {
	case err != nil:
		return err
	case !found:
		return w.invalid("media %s: content %s is not archived; store it with PutContent before recording the media", m.SID, m.SHA256)
	case m.Size == 0:
		m.Size = doc.Size
	case m.Size != doc.Size:
		return w.invalid("media %s says %d bytes, but content %s holds %d", m.SID, m.Size, m.SHA256, doc.Size)
	}
	js, err := encodeMedia(m)
	if err != nil {
		return w.invalid("encoding media %s: %v", m.SID, err)
	}
	return w.send(&op{kind: opPutMedia, sid: m.SID, label: m.SHA256, raw: js})
}

// DeleteMedia records that media SIDs are gone from the service, so that
// once no kept snapshot sees them, forget frees their content.
func (w *Writer) DeleteMedia(sids []string) error {
	return w.deleteEntities(opDeleteMedia, "media SID", "", sids)
}

// mediaAt reads the media record of a service visible as of asOf.
func (a *Archive) mediaAt(service, mediaSID string, asOf uint64) (MediaRecord, bool, error) {
	if mediaSID == "" {
		return MediaRecord{}, false, nil
	}
	l := loc{svc: service, bkt: bktMedia}
	it, found, err := a.lookup(l, []byte(mediaSID), asOf)
	if err != nil || !found {
		return MediaRecord{}, false, err
	}
	m, err := decodeMedia(it.raw)
	if err != nil {
		return MediaRecord{}, false, a.errCorrupt(l.String()+fmt.Sprintf("/%q", mediaSID), err)
	}
	return m, true, nil
}

// CurrentMedia returns the newest archived record of a service's media SID.
func (a *Archive) CurrentMedia(service, mediaSID string) (MediaRecord, bool, error) {
	return a.mediaAt(service, mediaSID, snapInf)
}

// LastLiveMedia returns the newest live record of a service's media SID
// among all its versions, even when a later version records it deleted:
// what to bring back for a media that a run recorded deleted by mistake
// (package backup). found is false when no version is live.
func (a *Archive) LastLiveMedia(service, mediaSID string) (MediaRecord, bool, error) {
	l := loc{svc: service, bkt: bktMedia}
	entity := []byte(mediaSID)
	var raw []byte
	err := a.read(func(tx *bolt.Tx) error {
		b, err := a.bucket(tx, l)
		if b == nil || len(entity) == 0 {
			return err
		}
		return forEachEntity(b, entity, func(e []byte, vs []version) (bool, error) {
			if !bytes.Equal(e, entity) {
				return false, nil
			}
			for i := len(vs) - 1; i >= 0; i-- {
				r, err := a.decodeAt(l, vs[i])
				if err != nil {
					return false, err
				}
				if r.live() {
					raw = bytes.Clone(r.payload)
					break
				}
			}
			return false, nil
		})
	})
	if err != nil || raw == nil {
		return MediaRecord{}, false, err
	}
	m, err := decodeMedia(raw)
	if err != nil {
		return MediaRecord{}, false, a.errCorrupt(l.String()+fmt.Sprintf("/%q", mediaSID), err)
	}
	return m, true, nil
}

// LiveMedia lists the media SIDs of the service in the current state, sorted.
func (a *Archive) LiveMedia(service string) ([]string, error) {
	return a.liveKeys(loc{svc: service, bkt: bktMedia})
}

// Media returns the media record the snapshot sees for a media SID.
func (v *View) Media(mediaSID string) (MediaRecord, bool, error) {
	return v.a.mediaAt(v.snap.Service, mediaSID, v.snap.ID)
}

// PutUsers records users (versioned, entity = US SID, label = identity).
func (w *Writer) PutUsers(us []UserRecord) error {
	ms := make([]MemberRecord, len(us))
	for i, u := range us {
		ms[i] = MemberRecord(u)
	}
	return w.putLabelled(opPutUsers, "user", "", ms)
}

// DeleteUsers records that users are gone from the service.
func (w *Writer) DeleteUsers(sids []string) error {
	return w.deleteEntities(opDeleteUsers, "user SID", "", sids)
}

// LiveUsers lists the SIDs of the service's users in the current state, sorted.
func (a *Archive) LiveUsers(service string) ([]string, error) {
	return a.liveKeys(loc{svc: service, bkt: bktUsers})
}

// Users returns the users the snapshot sees, ordered by SID.
func (v *View) Users() ([]UserRecord, error) {
	var out []UserRecord
	err := v.a.scan(v.loc("", bktUsers), v.snap.ID, listChunk, false, func(it item) error {
		out = append(out, UserRecord{SID: string(it.entity), Identity: it.label, Raw: it.raw})
		return nil
	})
	return out, err
}

// APIs a snapshot can be read through (Snapshot.API; "" means chat).
const (
	APIChat          = "chat"
	APIConversations = "conversations"
)

// SetAPI records which API ("chat" or "conversations") the snapshot was read
// through; Snapshot.API reports it ("" for snapshots of earlier releases,
// which were all read through Chat). It is written into the snapshot
// record at once, so a run that dies still says which API it used.
func (w *Writer) SetAPI(api string) error {
	if api != APIChat && api != APIConversations {
		return w.invalid("unknown API %q; want %q or %q", api, APIChat, APIConversations)
	}
	return w.send(&op{kind: opSetAPI, label: api})
}

// setAPI stores the API in the writer's snapshot record.
func (ap *applier) setAPI(w *Writer, api string) error {
	if err := ap.needFormat2(); err != nil {
		return err
	}
	snaps := ap.tx.Bucket(bktSnapshots)
	k := be64(w.id)
	s, err := decodeSnapshot(k, snaps.Get(k))
	if err != nil {
		return ap.a.errCorrupt(fmt.Sprintf("snapshots/%d", w.id), err)
	}
	s.API = api
	return putSnapshot(snaps, s)
}

// format2Bucket returns the service's bucket name (media or users), which
// format 1 does not have, creating it when create is set; nil when it does
// not exist and create is not set.
func (ap *applier) format2Bucket(sb *svcBuckets, name []byte, create bool) (*bolt.Bucket, error) {
	if b := sb.root.Bucket(name); b != nil || !create {
		return b, nil
	}
	if err := ap.needFormat2(); err != nil {
		return nil, err
	}
	return sb.root.CreateBucket(name)
}

// needFormat2 moves the file to format 2 in the transaction that first
// writes something format 1 cannot hold (see doc.go).
func (ap *applier) needFormat2() error {
	if ap.format2 {
		return nil
	}
	if err := upgradeFormat(ap.tx); err != nil {
		return err
	}
	ap.format2 = true
	return nil
}

func upgradeFormat(tx *bolt.Tx) error {
	meta := tx.Bucket(bktMeta)
	if bytes.Equal(meta.Get(keyFormat), formatBytes(FormatVersion)) {
		return nil
	}
	return meta.Put(keyFormat, formatBytes(FormatVersion))
}
