// Command verify checks the API key on stdin with apikeysd, as an internal service does
// with the key that came with a request. APIKEYS_SERVER is host:port;
// APIKEYS_SERVICE_CREDENTIAL is a service credential (scope verify is enough).
package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	apikeys "apikeys/clients/go"
	"apikeys/clients/go/apikeysv1"
)

func main() {
	c, err := apikeys.New(os.Getenv("APIKEYS_SERVER"), apikeys.WithDefaults(apikeys.Service(os.Getenv("APIKEYS_SERVICE_CREDENTIAL"))))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	key, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Verification().Verify(ctx, &apikeysv1.VerifyRequest{Secret: strings.TrimSpace(key)})
	if err != nil {
		log.Fatal(err) // apikeys.CodeOf(err) == apikeys.Unauthenticated: the key does not open anything
	}
	fmt.Println(resp.Principal.TenantId, resp.Principal.UserId, resp.Principal.KeyId)
}
