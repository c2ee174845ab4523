package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// APIAuto asks ForAPI to choose: Chat when the service answers there,
// otherwise Conversations.
const APIAuto = "auto"

// ErrNoAPI matches the error ForAPI returns when the service cannot be
// read through the API asked for (or, with APIAuto, through either).
var ErrNoAPI = errors.New("service not reachable through the API asked for")

// CheckAPI checks a choice of API given by a user: APIAuto, APIChat or
// APIConversations.
func CheckAPI(want string) error {
	switch want {
	case APIAuto, APIChat, APIConversations:
		return nil
	}
	return fmt.Errorf("API %q is not known: use %q, %q or %q", want, APIAuto, APIChat, APIConversations)
}

// ForAPI decides which API reads and writes service, and returns its name
// (APIChat or APIConversations): the Client itself reads through Chat,
// Client.Conversations through Conversations.
//
//   - APIAuto fetches the service through Chat and chooses Chat when it
//     answers. When Chat answers 404 (its API shut down, or no such
//     service there) or cannot be reached, the service is fetched through
//     Conversations, and Conversations is chosen when it answers. A service
//     that answers on neither is an error naming both roots tried.
//   - APIChat fetches the service through Chat; when Chat answers 404 but
//     Conversations has the service, the error says to use Conversations.
//   - APIConversations fetches the service through Conversations.
//
// Refused credentials (ErrAuthentication) and a cancelled ctx are returned
// as they are, from whichever API gave them. Errors that say an API cannot
// be used match ErrNoAPI and wrap the API's own error.
func (c *Client) ForAPI(ctx context.Context, service, want string) (string, error) {
	if err := CheckAPI(want); err != nil {
		return "", err
	}
	if want == APIConversations {
		if _, err := c.conv.FetchService(ctx, service); err != nil {
			return "", c.conv.unusable(service, err)
		}
		return APIConversations, nil
	}
	_, chatErr := c.FetchService(ctx, service)
	if chatErr == nil {
		return APIChat, nil
	}
	if !c.tryOther(ctx, chatErr, want) {
		if errors.Is(chatErr, ErrAuthentication) || ctx.Err() != nil {
			return "", chatErr
		}
		return "", c.api.unusable(service, chatErr)
	}
	_, convErr := c.conv.FetchService(ctx, service)
	switch {
	case errors.Is(convErr, ErrAuthentication) || ctx.Err() != nil:
		return "", convErr
	case want == APIChat && convErr == nil:
		return "", fmt.Errorf("service %s is not served by Chat v2 at %s (%w), but Conversations v1 at %s has it: use --api conversations (or auto): %w",
			service, c.rootStr, chatErr, c.conv.rootStr, ErrNoAPI)
	case want == APIChat:
		return "", c.api.unusable(service, chatErr)
	case convErr == nil:
		return APIConversations, nil
	}
	return "", fmt.Errorf("service %s answers on neither API: Chat v2 at %s: %v; Conversations v1 at %s: %v; check the service SID, --base-url and --conversations-url: %w",
		service, c.rootStr, chatErr, c.conv.rootStr, convErr, ErrNoAPI)
}

// tryOther reports whether Chat's answer err to the service fetch leaves
// Conversations to try: a 404, or no answer at all (a transport error); not
// an answer that is not a service (a proxy's page, say), which is an error.
// With APIChat, only a 404 does, to tell the user which API to use.
func (c *Client) tryOther(ctx context.Context, err error, want string) bool {
	if ctx.Err() != nil || errors.Is(err, ErrAuthentication) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusNotFound
	}
	var bad *badAnswerError
	if errors.As(err, &bad) {
		return false // Chat's root answered, with something else than a service
	}
	return want == APIAuto
}

// unusable says that service cannot be read through a, wrapping why.
func (a *api) unusable(service string, err error) error {
	if errors.Is(err, ErrAuthentication) {
		return err
	}
	return fmt.Errorf("service %s through %s at %s: %w: %w", service, a.title, a.rootStr, err, ErrNoAPI)
}
