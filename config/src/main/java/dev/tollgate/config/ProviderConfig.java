package dev.tollgate.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An upstream provider. {@code baseUrl} includes the API version prefix (for example
 * {@code https://api.openai.com/v1}); a client's {@code /v1/...} path is appended to it without its
 * {@code /v1}. Only configuration chooses the upstream host: nothing a client sends can.
 *
 * @param apiKey             the provider key from the environment variable {@code apiKeyEnv}, or null when
 *                           none is configured (local servers)
 * @param caCertFile         PEM certificates to trust for this provider instead of the JDK's, or null
 * @param pricesAs           the provider name whose catalog rows this provider serves and is priced by, or null for
 *                           its own name (see {@link #catalogProvider()})
 * @param extraHeaders       headers sent on every request to this provider, as the configuration file writes them
 *                           (not secret: they are in a file)
 * @param extraHeaderSecrets headers sent on every request to this provider whose values come from the environment
 *                           ({@code extraHeadersEnv}); a {@link Secret} so that printing the configuration hides them
 */
public record ProviderConfig(String name, Protocol protocol, URI baseUrl, String apiKeyEnv, Secret apiKey, Path caCertFile,
                             String pricesAs, Map<String, String> extraHeaders, Map<String, Secret> extraHeaderSecrets) {

    public ProviderConfig {
        // Insertion order kept, so the headers go upstream in the order the file wrote them.
        extraHeaders = extraHeaders == null || extraHeaders.isEmpty() ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(extraHeaders));
        extraHeaderSecrets = extraHeaderSecrets == null || extraHeaderSecrets.isEmpty() ? Map.of()
                : Collections.unmodifiableMap(new LinkedHashMap<>(extraHeaderSecrets));
    }

    /** A provider priced by its own catalog rows, with no extra headers. */
    public ProviderConfig(String name, Protocol protocol, URI baseUrl, String apiKeyEnv, Secret apiKey, Path caCertFile) {
        this(name, protocol, baseUrl, apiKeyEnv, apiKey, caCertFile, null, Map.of(), Map.of());
    }

    /**
     * The provider name of the catalog rows this provider serves and is priced by: {@code pricesAs}, or its own name.
     * The journal records the serving provider's {@link #name()}; whatever looks a journaled provider's row up again
     * (re-rating, metrics, the pricing check) goes through this name.
     */
    public String catalogProvider() {
        return pricesAs == null ? name : pricesAs;
    }

    /**
     * For each configured provider's name, the provider name of its catalog rows ({@link #catalogProvider()}). A name
     * not in the map (a provider since removed from the configuration) prices as itself.
     */
    public static Map<String, String> catalogProviders(List<ProviderConfig> providers) {
        Map<String, String> byName = new HashMap<>();
        for (ProviderConfig provider : providers) {
            byName.put(provider.name(), provider.catalogProvider());
        }
        return Map.copyOf(byName);
    }

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
