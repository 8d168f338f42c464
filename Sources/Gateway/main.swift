import Foundation

#if canImport(Glibc)
import Glibc
#endif

// memory-gateway serve | migrate | tenant create --name N [--plan P] | billing --period YYYY-MM [--format json|csv]
let status = CommandLine.run(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
fflush(nil)
exit(status)
