import ArgumentParser

/// `node-dist reproduce <experiment>`: the paper's experiments, trained by node-dist.
struct ReproduceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "reproduce",
    abstract: "Reproduce an experiment of the Neural ODE paper with node-dist's own training.",
    subcommands: [ReproduceTable1.self, ReproduceMoons.self, ReproducePlanar.self],
    defaultSubcommand: ReproducePlanar.self)
}
