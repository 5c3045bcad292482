package dev.tollgate.metering;

import dev.tollgate.config.ModelRow;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which configured provider serves a model name on a surface, and at which catalog row. A catalog
 * row is routable only when a provider of that name is configured with the row's protocol, or one
 * whose {@code pricesAs} names it ({@link ProviderConfig#catalogProvider()}: then the route's
 * provider is the serving one, so its own host and key, and its row is the named provider's); the
 * first configured provider wins where two serve the same name. Model names match exactly: a dated
 * snapshot can be priced differently from its alias, so it needs its own row.
 *
 * <p>Built from one catalog and never changed: a reload builds new routes, and a request keeps the route (so the
 * prices, and {@link #catalogVersion()}) it was admitted with.
 */
public final class ModelRoutes {
    private final Map<String, Route> byProtocolAndModel = new HashMap<>();
    private final Map<String, Route> byProviderAndModel = new HashMap<>();
    private final List<Route> routes = new ArrayList<>();
    private final PriceCatalog catalog;

    public ModelRoutes(PriceCatalog catalog, List<ProviderConfig> providers) {
        this.catalog = catalog;
        long nowMs = System.currentTimeMillis();
        for (ProviderConfig provider : providers) {
            for (ModelRow row : catalog.rows()) {
                String key = key(provider.protocol(), row.model());
                if (row.provider().equals(provider.catalogProvider()) && !byProviderAndModel.containsKey(provider.name() + '\u0000' + row.model())) {
                    List<ModelRow> versions = catalog.versions(row.provider(), row.model());
                    Route route = new Route(provider, shownAt(versions, nowMs), catalog.version(), versions);
                    byProviderAndModel.put(provider.name() + '\u0000' + row.model(), route);
                    if (!byProtocolAndModel.containsKey(key)) {
                        byProtocolAndModel.put(key, route);
                        routes.add(route);
                    }
                }
            }
        }
    }

    /** The route for a model on a surface, or null when no configured provider serves it. */
    public Route find(Protocol surface, String model) {
        return byProtocolAndModel.get(key(surface, model));
    }

    /** The route of one provider's model (a route's target), or null when that provider does not serve it. */
    public Route find(String providerName, String model) {
        return byProviderAndModel.get(providerName + '\u0000' + model);
    }

    /** Every routable model, in configuration order. */
    public List<Route> routes() {
        return List.copyOf(routes);
    }

    /** The catalog these routes price by. */
    public PriceCatalog catalog() {
        return catalog;
    }

    /** The version of that catalog, journaled with every debit priced by these routes. */
    public String catalogVersion() {
        return catalog.version();
    }

    private static String key(Protocol protocol, String model) {
        return protocol.name() + '\u0000' + model;
    }

    /**
     * The row a route shows where there is no request time (model lists): the version in force at {@code nowMs}, else
     * the next to begin, else the last. With no gaps between versions, the first not yet ended is one of the first two.
     */
    private static ModelRow shownAt(List<ModelRow> versions, long nowMs) {
        for (ModelRow version : versions) {
            if (version.effectiveUntil() == null || nowMs < version.effectiveUntil().toEpochMilli()) {
                return version;
            }
        }
        return versions.getLast();
    }

    /**
     * A provider's model at its catalog row, and the version of the catalog that row is from. {@code versions} are all
     * of the model's price sets, ascending by effectiveFrom; {@code row} is one of them: the one in force when the
     * routes were built on a route as found, the one that priced the request on a route {@link #pricedAt priced}.
     */
    public record Route(ProviderConfig provider, ModelRow row, String catalogVersion, List<ModelRow> versions) {
        public Route {
            versions = List.copyOf(versions);
        }

        /** A route of a model with one price set. */
        public Route(ProviderConfig provider, ModelRow row, String catalogVersion) {
            this(provider, row, catalogVersion, List.of(row));
        }

        /**
         * This route as it prices a request admitted at {@code epochMs}: at the version in force then, in its time
         * window if one holds (see {@link ModelRow#pricedAt}); itself when nothing differs, so a model of one undated
         * price set and no windows costs a request no allocation. Null when no version is in force then: the model has
         * no price at that moment, and a request for it is refused as for a model the catalog does not have.
         */
        public Route pricedAt(long epochMs) {
            ModelRow version = row;
            if (versions.size() > 1 || !row.inForceAt(epochMs)) {
                version = null;
                for (int i = 0; i < versions.size(); i++) { // one to three versions: a scan, no iterator
                    if (versions.get(i).inForceAt(epochMs)) {
                        version = versions.get(i);
                        break;
                    }
                }
                if (version == null) {
                    return null;
                }
            }
            ModelRow priced = version.timeWindows().isEmpty() ? version : version.pricedAt(epochMs);
            return priced == row ? this : new Route(provider, priced, catalogVersion, versions);
        }
    }
}
