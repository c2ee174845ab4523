package remote

import (
	"context"
	"io"
)

// Conversations is the Conversations v1 view of a Client, returned by
// Client.Conversations. It has the Client's methods for services, roles,
// users, channels, members and messages, sent to the Conversations URL
// (/v1/Services/{IS}/Conversations, …/Participants, …/Messages, …/Users,
// …/Roles) over the Client's transport, with its credentials, limits,
// counters and webhook setting. Records come back as the same types as
// Chat's, decoded through the table of shape.go, with Raw the bytes
// Conversations sent; parameters are sent under Conversations' names. A
// channel is a conversation (Conversations shows private channels only), a
// member a participant. What differs is listed in doc.go.
type Conversations struct {
	*api
}

// The Media Content Service is the same whichever API reads the messages:
// the Conversations view's media methods are the Client's, so code that
// reads or writes through either view reaches the files the same way.

// FetchMedia is Client.FetchMedia.
func (v *Conversations) FetchMedia(ctx context.Context, service, sid string) (*MediaFile, error) {
	return v.c.FetchMedia(ctx, service, sid)
}

// OpenMedia is Client.OpenMedia.
func (v *Conversations) OpenMedia(ctx context.Context, service, sid string) (*MediaFile, io.ReadCloser, error) {
	return v.c.OpenMedia(ctx, service, sid)
}

// UploadMedia is Client.UploadMedia.
func (v *Conversations) UploadMedia(ctx context.Context, service string, u MediaUpload) (*MediaFile, error) {
	return v.c.UploadMedia(ctx, service, u)
}
