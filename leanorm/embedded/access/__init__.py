"""Who may do what: authorisation of reads and writes (ACLs, class permissions, protected fields),
passwords, third-party account verifiers, phone numbers, one-time codes and their limits."""
