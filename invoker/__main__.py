from invoker import main

main()
