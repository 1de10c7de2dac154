// goget: GET one URL as a Go program does by default: net/http's DefaultClient, whose
// transport takes the proxy from HTTP_PROXY/HTTPS_PROXY/NO_PROXY (ProxyFromEnvironment)
// and, on Linux, the CAs from SSL_CERT_FILE. Exit 0 on a 2xx answer, 1 on any other
// status, 2 when no answer came; the body goes nowhere.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goget URL")
		os.Exit(2)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	response, err := client.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer response.Body.Close()
	if _, err := io.Copy(io.Discard, response.Body); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if response.StatusCode < 200 || response.StatusCode > 299 {
		fmt.Fprintln(os.Stderr, response.Status)
		os.Exit(1)
	}
}
