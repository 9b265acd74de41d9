% Allocates 1 MB arrays (131072 doubles, every element written) and keeps
% them all alive.
kept = {};
while true
  kept{end + 1} = ones(1, 131072);
end
