// A Java 11+ client as a company's Java application is written: java.net.http's
// HttpClient with the JVM's proxy settings (ProxySelector.getDefault(): the
// -Dhttp(s).proxyHost/Port of JAVA_TOOL_OPTIONS) and its trust store, and the proxy's
// user given to an Authenticator (here from http_proxy's user info, as the app's
// configuration would). Exit 0 on a 2xx; 22 on another status (407 included), as
// `curl -f`; 60 when TLS fails; 1 on any other I/O error.
import java.io.IOException;
import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.net.ProxySelector;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import javax.net.ssl.SSLException;

public class JavaGet {
    public static void main(String[] args) throws Exception {
        HttpClient.Builder builder = HttpClient.newBuilder()
            .proxy(ProxySelector.getDefault()).connectTimeout(Duration.ofSeconds(10));
        String proxy = System.getenv("http_proxy");
        if (proxy != null && URI.create(proxy).getRawUserInfo() != null) {
            String[] user = URI.create(proxy).getRawUserInfo().split(":", 2);
            String name = URLDecoder.decode(user[0], StandardCharsets.UTF_8);
            char[] password = URLDecoder.decode(user.length > 1 ? user[1] : "",
                                                StandardCharsets.UTF_8).toCharArray();
            builder.authenticator(new Authenticator() {
                @Override
                protected PasswordAuthentication getPasswordAuthentication() {
                    return getRequestorType() == RequestorType.PROXY
                        ? new PasswordAuthentication(name, password) : null;
                }
            });
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0]))
            .timeout(Duration.ofSeconds(10)).build();
        try {
            HttpResponse<String> response = builder.build().send(
                request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() / 100 != 2) {
                System.err.println("HTTP " + response.statusCode());
                System.exit(22);
            }
        } catch (SSLException e) {
            System.err.println("TLS: " + e);
            System.exit(60);
        } catch (IOException e) {
            System.err.println(e);
            System.exit(1);
        }
    }
}
