import ArgumentParser

/// A mistyped command name, caught before parsing.
///
/// `node-dist` and `node-dist reproduce` have default subcommands, so
/// ArgumentParser hands a word it does not know (`node-dist trian`) to the
/// default (`reproduce planar`) and reports it as that command's unexpected
/// argument. This check names the word as an unknown command instead, lists
/// the commands at that level and suggests the nearest.
enum UnknownCommand {
  /// The message for the first word of `arguments` (the tool's, without its
  /// name) that stands where a subcommand of `root` must be but names none;
  /// nil when every such word is a subcommand, or an option comes first.
  static func message(for arguments: [String], root: any ParsableCommand.Type) -> String? {
    var command = root
    var path = [name(of: root)]
    for word in arguments {
      let subcommands = command.configuration.subcommands
      if subcommands.isEmpty || word.hasPrefix("-") { return nil }
      if word == "help" && command == root { return nil }
      guard let next = subcommands.first(where: { name(of: $0) == word }) else {
        let names = subcommands.map(name(of:))
        let text = "unknown command '\(word)' for '\(path.joined(separator: " "))'"
        let suggestion = nearest(to: word, in: names).map { " — did you mean '\($0)'?" } ?? "."
        return text + suggestion + " The commands are: \(names.joined(separator: ", "))."
      }
      command = next
      path.append(word)
    }
    return nil
  }

  /// Prints the message for a mistyped command with the tool's usage and
  /// exits with ArgumentParser's usage status (64); returns when there is none.
  static func exitIfPresent(in arguments: [String], root: any ParsableCommand.Type) {
    guard let text = message(for: arguments, root: root) else { return }
    root.exit(withError: ValidationError(text))
  }

  private static func name(of command: any ParsableCommand.Type) -> String {
    command.configuration.commandName ?? command._commandName
  }

  /// The name within edit distance 2 of `word` (the closest), if any.
  static func nearest(to word: String, in names: [String]) -> String? {
    let scored = names.map { (name: $0, distance: editDistance(word, $0)) }
    guard let best = scored.min(by: { $0.distance < $1.distance }), best.distance <= 2 else {
      return nil
    }
    return best.name
  }

  /// Levenshtein distance, with a transposition of neighbours counting as one edit.
  static func editDistance(_ a: String, _ b: String) -> Int {
    let (x, y) = (Array(a), Array(b))
    if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
    var table = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
    for i in 0...x.count { table[i][0] = i }
    for j in 0...y.count { table[0][j] = j }
    for i in 1...x.count {
      for j in 1...y.count {
        let substitution = table[i - 1][j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1)
        var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, substitution)
        if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
          best = min(best, table[i - 2][j - 2] + 1)
        }
        table[i][j] = best
      }
    }
    return table[x.count][y.count]
  }
}
