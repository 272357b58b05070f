"""What the tests share: the test databases, the one cluster builder and the worlds built
with it, servers and the production topology on loopback. Tests import from here, never from
each other; the benchmarks may import from here too."""
