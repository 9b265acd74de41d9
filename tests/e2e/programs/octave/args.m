% argc=N, then each argument as [arg]: argv() holds the arguments given
% after the script's name.
args = argv();
printf("argc=%d\n", numel(args));
for i = 1:numel(args)
  printf("[%s]\n", args{i});
end
