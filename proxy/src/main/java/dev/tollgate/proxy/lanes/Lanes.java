package dev.tollgate.proxy.lanes;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.LaneConfig;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.request.Rejection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The node's lanes and which one each request runs in. A key's own lane is the lane tag of its scope (set through the
 * admin API) when that names a declared lane, else the {@code lane} its configuration entry names, else the first lane
 * declared. A request may name another with {@code x-tollgate-lane}: one its key's configuration lists in {@code lanes}.
 */
public final class Lanes {
    /** A request's lane, or (lane null) why it may not run in the lane it named: {@code refusedAs} and a message. */
    public record Choice(Lane lane, Rejection.Kind refusedAs, String refusal) {
        public boolean refused() {
            return lane == null;
        }
    }

    /** A key's lanes from the configuration file. */
    private record Binding(String lane, List<String> pickable) {
    }

    private static final java.util.regex.Pattern LANE_NAME = java.util.regex.Pattern.compile("[a-z0-9][a-z0-9_.-]{0,31}");

    private final List<Lane> lanes;
    private final Map<String, Lane> byName = new HashMap<>();
    private final Map<String, Binding> configured = new HashMap<>();
    private final int priorityRanks;

    public Lanes(TollgateConfig config) {
        TreeSet<Integer> priorities = new TreeSet<>();
        for (LaneConfig lane : config.lanes()) {
            priorities.add(lane.priority());
        }
        List<Integer> ranked = new ArrayList<>(priorities);
        List<Lane> made = new ArrayList<>();
        for (LaneConfig lane : config.lanes()) {
            Lane gate = new Lane(lane, ranked.indexOf(lane.priority()));
            made.add(gate);
            byName.put(lane.name(), gate);
        }
        this.lanes = List.copyOf(made);
        this.priorityRanks = ranked.size();
        for (AccountConfig account : config.accounts()) {
            for (AccountConfig.KeyConfig key : account.keys()) {
                if (key.lane() != null || !key.lanes().isEmpty()) {
                    configured.put(key.sha256Hex(), new Binding(key.lane(), key.lanes()));
                }
            }
        }
    }

    /** Every lane, in the configuration's order. */
    public List<Lane> all() {
        return lanes;
    }

    /** The lane of a key that names none: the first declared (or the built-in one). */
    public Lane first() {
        return lanes.getFirst();
    }

    /** The lane named {@code name}, or null. */
    public Lane lane(String name) {
        return byName.get(name);
    }

    public boolean declares(String name) {
        return byName.containsKey(name);
    }

    /** How many distinct priorities the lanes have: the ranks of {@link Resumptions}. */
    public int priorityRanks() {
        return priorityRanks;
    }

    /** The lane {@code key} runs in when its request names none. */
    public Lane laneOf(ApiKeys.ApiKey key) {
        Lane tagged = byName.get(key.scope().lane());
        if (tagged != null) {
            return tagged;
        }
        Binding binding = configured.get(key.sha256Hex());
        Lane bound = binding == null || binding.lane() == null ? null : byName.get(binding.lane());
        return bound != null ? bound : first();
    }

    /** The lanes {@code key} may run in: its own first, then those its configuration lets it pick. */
    public Set<String> allowedFor(ApiKeys.ApiKey key) {
        Set<String> allowed = new LinkedHashSet<>();
        allowed.add(laneOf(key).name());
        Binding binding = configured.get(key.sha256Hex());
        if (binding != null) {
            allowed.addAll(binding.pickable());
        }
        return allowed;
    }

    /** The lane of a request by {@code key} that asked for {@code requested} ({@code x-tollgate-lane}; null or blank: none). */
    public Choice choose(ApiKeys.ApiKey key, String requested) {
        Lane own = laneOf(key);
        if (requested == null || requested.isBlank()) {
            return new Choice(own, null, null);
        }
        String name = requested.strip();
        if (name.equals(own.name())) {
            return new Choice(own, null, null);
        }
        Lane asked = byName.get(name);
        if (asked == null) {
            // Echoed only when it has a lane name's shape: a header is the client's text, and messages reach logs.
            return new Choice(null, Rejection.Kind.UNKNOWN_LANE, (LANE_NAME.matcher(name).matches() ? "There is no lane `" + name + "` on this Tollgate"
                    : "The x-tollgate-lane header names no lane of this Tollgate") + "; its lanes are " + names() + ".");
        }
        Binding binding = configured.get(key.sha256Hex());
        if (binding != null && binding.pickable().contains(name)) {
            return new Choice(asked, null, null);
        }
        return new Choice(null, Rejection.Kind.LANE_NOT_ALLOWED, "This key may not use the lane `" + name + "`; it may use " + String.join(", ", allowedFor(key)) + ".");
    }

    /** The declared lanes' names, for messages. */
    public String names() {
        return String.join(", ", lanes.stream().map(Lane::name).toList());
    }
}
