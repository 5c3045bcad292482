package dev.tollgate.proxy.cli;

import dev.tollgate.journal.Ledger;
import dev.tollgate.proxy.Gateway;
import java.io.PrintStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * SIGHUP reloads the price catalog, as {@code POST /admin/v1/pricing/reload} does, journaled with the actor
 * {@value #ACTOR}. {@code sun.misc.Signal} (module jdk.unsupported) is the JDK's only way to handle a signal.
 */
public final class CatalogReloadSignal {
    private static final Logger LOG = LoggerFactory.getLogger(CatalogReloadSignal.class);
    /** Who the audit names for a reload by signal: no admin token made it. */
    public static final String ACTOR = "sighup";

    private CatalogReloadSignal() {
    }

    /** Reloads on every HUP from now on; false (said on {@code out}) where this JVM cannot handle HUP (Windows, {@code -Xrs}). */
    static boolean install(Gateway gateway, PrintStream out) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("HUP"), signal -> out.println("tollgate: " + reload(gateway)));
            return true;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            out.println("tollgate: SIGHUP does not reload the price catalog here (" + e.getMessage() + "); use POST /admin/v1/pricing/reload");
            return false;
        }
    }

    /** One reload, as a HUP makes it; returns what happened, in one line, for the console. Never throws. */
    public static String reload(Gateway gateway) {
        try {
            Gateway.Reload reload = gateway.reloadCatalog(new Ledger.Author(ACTOR, ""));
            return reload.changed()
                    ? "SIGHUP: price catalog " + reload.catalog().version() + " (" + reload.catalog().source() + ", " + reload.catalog().rows().size()
                            + " rows) replaces " + reload.previousVersion() + "; requests admitted before keep their price"
                    : "SIGHUP: price catalog unchanged (version " + reload.catalog().version() + ")";
        } catch (Gateway.ReloadRefused e) {
            return "SIGHUP: price catalog not reloaded, version " + gateway.catalog().version() + " stays: " + String.join("; ", e.problems());
        } catch (RuntimeException e) {
            // The journal refused the record, say: nothing took effect, and the signal thread must not die of it.
            LOG.error("SIGHUP: the price catalog reload failed", e);
            return "SIGHUP: price catalog not reloaded, version " + gateway.catalog().version() + " stays: " + e.getMessage();
        }
    }
}
