print(String(decoding: PackageResources.m0001_initial_sql, as: UTF8.self))
