package e2e

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// The wizard reads only its own forms, URL-encoded and small: a multipart body (which Go would
// read, 32 MiB of files, into memory before any check) or an oversized one is refused before it
// is read, signed in or not.
func TestWizardFormsAreBounded(t *testing.T) {
	sys := start(t)
	g := patient(t)
	wizard := sys.baseURL + "/settings/enterprise/identity-setup"
	sameSite := func(headers map[string]string) map[string]string {
		headers["Origin"], headers["Sec-Fetch-Site"] = sys.baseURL, "same-origin"
		return headers
	}
	g.Eventually(func() int { // the data plane listens once the manager runs
		status, _ := call(t, "GET", wizard+"/login", "", "")
		return status
	}).Should(Equal(http.StatusOK))
	multipart := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n" + strings.Repeat("x", 1<<20) + "\r\n--b--\r\n"
	status, body := sendUnread(t, "POST", wizard+"/login", multipart, sameSite(map[string]string{"Content-Type": "multipart/form-data; boundary=b"}))
	g.Expect(status).To(Equal(http.StatusUnsupportedMediaType), body)

	large := "csrf=x&token=" + strings.Repeat("a", 100<<10)
	status, body = sendUnread(t, "POST", wizard+"/login", large, sameSite(map[string]string{"Content-Type": "application/x-www-form-urlencoded"}))
	g.Expect(status).To(Equal(http.StatusRequestEntityTooLarge), body)
	g.Expect(body).To(ContainSubstring("larger than the wizard takes"))

	// Signed in (the authenticating proxy's headers): the SSO form's 2 MiB, no more.
	huge := "csrf=x&metadata=" + strings.Repeat("a", 3<<20)
	status, body = sendUnread(t, "POST", wizard+"/new", huge, sameSite(map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "X-Remote-User": "alice"}))
	g.Expect(status).To(Equal(http.StatusRequestEntityTooLarge), body)
	// A form of ordinary size still reaches the CSRF check.
	status, _ = send(t, "127.0.0.1", "POST", wizard+"/new", "csrf=x&namespace=acme", sameSite(map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "X-Remote-User": "alice"}))
	g.Expect(status).To(Equal(http.StatusForbidden))
}

// sendUnread sends a request whose body the server refuses without reading it all, and reads
// the answer while the body is still being written: a client that waits for its write to finish
// meets the connection's reset (the server closes it with the body unread) and never sees the
// answer the server sent.
func sendUnread(t *testing.T, method, url, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	conn, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", req.URL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	go func() { _ = req.Write(conn) }() // fails once the server closes: expected
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
