import ArgumentParser
import NodeCore

/// The `node-dist` command-line tool.
@main
struct NodeDist: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "node-dist",
    abstract:
      "Neural ODEs with per-sample adaptive solves and adjoint gradients, on one process or many MPI ranks.",
    subcommands: [
      TrainCommand.self, EvalCommand.self, SampleCommand.self, DemoCommand.self, BenchCommand.self,
      ReproduceCommand.self,
      InfoCommand.self,
    ],
    defaultSubcommand: ReproduceCommand.self)

  /// Gives OpenBLAS its fast kernels on CPUs it does not know
  /// (``BLASKernelRestart``), keeps freed memory in the heap
  /// (``HeapRetention``), refuses a mistyped command
  /// name (``UnknownCommand``), then parses (a negative number after an option
  /// is its value: ``NegativeOptionValues``) and runs the command.
  static func main() {
    BLASKernelRestart.restartIfNeeded()
    HeapRetention.apply()
    let arguments = NegativeOptionValues.joined(Array(CommandLine.arguments.dropFirst()))
    UnknownCommand.exitIfPresent(in: arguments, root: Self.self)
    main(arguments)
  }
}
