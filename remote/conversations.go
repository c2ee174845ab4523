package remote

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
