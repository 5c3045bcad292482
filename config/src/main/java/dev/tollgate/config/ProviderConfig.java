package dev.tollgate.config;

import java.net.URI;
import java.nio.file.Path;

/**
 * An upstream provider. {@code baseUrl} includes the API version prefix (for example
 * {@code https://api.openai.com/v1}); a client's {@code /v1/...} path is appended to it without its
 * {@code /v1}. Only configuration chooses the upstream host: nothing a client sends can.
 *
 * @param apiKey      the provider key from the environment variable {@code apiKeyEnv}, or null when
 *                    none is configured (local servers)
 * @param caCertFile  PEM certificates to trust for this provider instead of the JDK's, or null
 */
public record ProviderConfig(String name, Protocol protocol, URI baseUrl, String apiKeyEnv, Secret apiKey, Path caCertFile) {

    public boolean tls() {
        return "https".equals(baseUrl.getScheme());
    }

    public int port() {
        return baseUrl.getPort() != -1 ? baseUrl.getPort() : tls() ? 443 : 80;
    }

    /** The base URL's path without a trailing slash, to which the endpoint path after {@code /v1} is appended. */
    public String basePath() {
        String path = baseUrl.getRawPath() == null ? "" : baseUrl.getRawPath();
        return path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }
}
